/** The carrier SDK: consume your own hop queries, answer them from your records. */
export { connectCarrier } from './src/client.js';
export type { Carrier, CarrierOptions, CarrierStats, HopLookup } from './src/client.js';
export {
  CdrIndex,
  answerFromCdr,
  parseCdrCsv,
  parseCustomersCsv,
  formatCdrCsv,
  formatCustomersCsv,
  readCsv,
  CdrFileError,
  CdrFileErrorCode,
} from './src/cdr.js';
export type { CdrRecord, Customer, CustomerAction, CdrLookup, AnswerFromCdrOptions } from './src/cdr.js';
