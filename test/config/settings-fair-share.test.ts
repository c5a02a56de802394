/** The settings file's FairShare section: its values and its refusals, with YAML paths. */
import assert from 'node:assert/strict';
import { loadSettingsText } from '../../src/config/settings.js';
import { settingsErrors as errorsOf } from './fixtures.js';

describe('settings: FairShare', () => {
  it('is off by default, by owner, over an hour, with no weights or bands', () => {
    assert.deepEqual(loadSettingsText('', 'd.yml').settings.FairShare, { Enable: false, By: 'owner', Window: 3_600_000, Weights: {}, PriorityBands: [] });
  });

  it('sorts the priority bands highest first', () => {
    assert.deepEqual(loadSettingsText('FairShare: {PriorityBands: [10, 900, 500]}', 'd.yml').settings.FairShare.PriorityBands, [900, 500, 10]);
  });

  it('refuses a By other than owner or project, bad weights and bad thresholds, naming each key', () => {
    assert.deepEqual(errorsOf('FairShare: {By: user}'), ['d.yml: FairShare.By: expected one of owner, project, got "user"']);
    assert.deepEqual(errorsOf('FairShare: {Weights: {a: 0, b: x}}'), [
      'd.yml: FairShare.Weights.a: expected a weight greater than 0, got 0',
      'd.yml: FairShare.Weights.b: expected a weight greater than 0, got "x"',
    ]);
    assert.deepEqual(errorsOf('FairShare: {Weights: [1]}'), ['d.yml: FairShare.Weights: expected a map of owner or project uuids to weights, got a list']);
    assert.deepEqual(errorsOf('FairShare: {PriorityBands: [0, 1.5]}'), [
      'd.yml: FairShare.PriorityBands.0: expected a whole number of at least 1, got 0',
      'd.yml: FairShare.PriorityBands.1: expected a whole number of at least 1, got 1.5',
    ]);
    assert.deepEqual(errorsOf('FairShare: {PriorityBands: [9, 9]}'), ['d.yml: FairShare.PriorityBands: expected each threshold once']);
    assert.deepEqual(errorsOf('FairShare: {Window: 0s}'), ['d.yml: FairShare.Window: expected a duration greater than 0s, got "0s"']);
  });
});
