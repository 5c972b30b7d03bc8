/** The one place the simulator reaches into the carrier part: its public CDR API. */
export {
  CdrIndex,
  answerFromCdr,
  formatCdrCsv,
  formatCustomersCsv,
  readCsv,
} from '../../carrier/index.js';
export type { CdrRecord, Customer, CustomerAction } from '../../carrier/index.js';
