import assert from 'node:assert/strict';
import { ConfigError } from '../../src/config/load.js';
import { parseAllDocuments } from 'yaml';
import { settingsToYAML } from '../../src/config/index.js';
import { loadSettingsText } from '../../src/config/settings.js';
import { unlocated } from './load-helpers.js';

function errorsOf(text: string): string[] {
  try {
    loadSettingsText(text, 'd.yml');
  } catch (err) {
    if (err instanceof ConfigError) return unlocated(err.errors);
    throw err;
  }
  return [];
}

describe('settings file: Billing', () => {
  it('reads rules by type name, durations in ms', () => {
    const { settings } = loadSettingsText('Billing: {InstanceTypes: {m5.large: {Increment: 1h, Minimum: 1h}, "*": {Increment: 0s, Minimum: 0s}}}\n', 'd.yml');
    assert.deepEqual(settings.Billing.InstanceTypes, { 'm5.large': { incrementMs: 3_600_000, minimumMs: 3_600_000 }, '*': { incrementMs: 0, minimumMs: 0 } });
  });

  it("check-config shows the rules with durations, so its document loads back to the same settings", () => {
    const { settings } = loadSettingsText('Billing: {InstanceTypes: {m5.large: {Increment: 1h, Minimum: 1h}, "*": {Increment: 1s, Minimum: 1m}}}\n', 'd.yml');
    const [, doc] = parseAllDocuments(`Clusters: {}\n${settingsToYAML(settings, 'd.yml', true)}`);
    assert.deepEqual((doc.toJS() as { Billing: unknown }).Billing, {
      InstanceTypes: { 'm5.large': { Increment: '1h0m0s', Minimum: '1h0m0s' }, '*': { Increment: '1s', Minimum: '1m0s' } },
      StretchIdle: false,
      MaxStretch: '30m0s',
      StretchMargin: '1m0s',
      MinLikelihood: 0.5,
      ArrivalWindow: '1h0m0s',
    });
    assert.deepEqual(loadSettingsText(doc.toString(), 'x.yml').settings, settings);
  });

  it('a rule that is not a map, a missing or bad duration, an unknown key, or a bound out of range is an error at its path', () => {
    assert.deepEqual(
      errorsOf('Billing: {InstanceTypes: {a: 1h, b: {Increment: 1h}, c: {Increment: -1s, Minimum: soon}, d: {Increment: 1s, Minimum: 1m, Minimun: 1m}}}\n'),
      [
        'd.yml: Billing.InstanceTypes.a: expected a map with Increment and Minimum (durations, e.g. {Increment: 1h, Minimum: 1h}), got "1h"',
        'd.yml: Billing.InstanceTypes.b.Minimum: expected a duration (0s for none)',
        'd.yml: Billing.InstanceTypes.c.Increment: expected a duration of at least 0s, got "-1s"',
        'd.yml: Billing.InstanceTypes.c.Minimum: invalid duration "soon"',
        'd.yml: Billing.InstanceTypes.d.Minimun: unknown key (did you mean Minimum?)',
      ],
    );
    assert.deepEqual(errorsOf('Billing: {MinLikelihood: 0, ArrivalWindow: 0s, MaxStretch: -1m}\n'), [
      'd.yml: Billing.MaxStretch: expected a duration of at least 0s, got "-1m"',
      'd.yml: Billing.MinLikelihood: expected a number greater than 0 and at most 1, got 0',
      'd.yml: Billing.ArrivalWindow: expected a duration greater than 0s, got "0s"',
    ]);
  });
});
