export * from './clock.js';
export * from './system.js';
export * from './manual.js';
export * from './steady.js';
