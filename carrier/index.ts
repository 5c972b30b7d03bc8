/** The carrier SDK: consume your own hop queries, answer them from your records. */
export { connectCarrier } from './src/client.js';
export type { Carrier, CarrierOptions, CarrierStats, HopLookup } from './src/client.js';
