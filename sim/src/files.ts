import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatCdrCsv, formatCustomersCsv } from './carrier.js';
import type { SimCdrs, SimNetwork } from './types.js';

/** Name of the directory file written by `writeNetworkFiles`. */
export const DIRECTORY_FILE = 'providers.json';

/**
 * Writes what each carrier would hold: `cdr-<id>.csv` for every provider, `customers-<id>.csv`
 * for every provider with customers, and `providers.json`, the provider directory (ids, names,
 * FRN/OCN, roles, contact, file names, and under `sim` the simulated behaviour).
 * Creates `dir` if needed; returns the paths written.
 */
export async function writeNetworkFiles(network: SimNetwork, cdrs: SimCdrs, dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const written: string[] = [];
  const put = async (name: string, text: string): Promise<void> => {
    const path = join(dir, name);
    await writeFile(path, text, 'utf8');
    written.push(path);
  };
  const entries = [];
  for (const p of network.providers) {
    const cdrFile = `cdr-${p.id}.csv`;
    await put(cdrFile, formatCdrCsv(cdrs.records.get(p.id) ?? []));
    const customers = cdrs.customers.get(p.id);
    let customersFile: string | undefined;
    if (customers !== undefined) {
      customersFile = `customers-${p.id}.csv`;
      await put(customersFile, formatCustomersCsv(customers));
    }
    entries.push({
      id: p.id,
      name: p.name,
      ocn: p.ocn,
      frn: p.frn,
      role: p.role,
      roles: p.roles,
      contact: p.contact,
      state: p.state,
      cdrFile,
      ...(customersFile === undefined ? {} : { customersFile }),
      sim: { behaviour: p.behaviour, retentionDays: p.retentionDays, clockSkewMs: p.clockSkewMs, size: p.size, risk: p.risk },
    });
  }
  const directory = {
    format: 'robotrace-sim-directory',
    version: 1,
    seed: network.options.seed,
    asOf: new Date(cdrs.asOf).toISOString(),
    providers: entries,
    foreignCarriers: network.foreignCarriers,
  };
  await put(DIRECTORY_FILE, JSON.stringify(directory, null, 2) + '\n');
  return written;
}
