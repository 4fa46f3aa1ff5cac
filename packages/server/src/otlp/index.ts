export { otlpRoutes } from './route.js';
