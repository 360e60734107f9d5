export { BACKENDS, describeBackend, selectBackend, type BackendChoice, type BackendName } from './backend';
