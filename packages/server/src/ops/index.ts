export type { GenerateOptions } from './generate.js';
export { generateEvents } from './generate.js';
