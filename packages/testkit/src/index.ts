export * from './conformance/index.js';
export * from './core-scripts.js';
export * from './differential.js';
export * from './processes.js';
export * from './readme.js';
export * from './servers/index.js';
export * from './targets.js';
export * from './world.js';
