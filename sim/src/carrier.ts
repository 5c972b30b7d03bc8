/**
 * The one place the simulator reaches into the carrier part. Once `carrier/index.ts` exports
 * the CDR API, point this at `../../carrier/index.js` (the lint rule against deep `src/`
 * imports flags this line until then).
 */
export {
  CdrIndex,
  answerFromCdr,
  formatCdrCsv,
  formatCustomersCsv,
  readCsv,
} from '../../carrier/src/cdr.js';
export type { CdrRecord, Customer, CustomerAction } from '../../carrier/src/cdr.js';
