import { CAMPAIGN_DATA } from './campaigns-data.js';
import type { CampaignSpec } from './types.js';

/** Curated robocall campaigns with real transcripts (see `campaigns-data.ts` for the source). */
export const CAMPAIGNS: readonly CampaignSpec[] = CAMPAIGN_DATA;

const BY_NAME = new Map(CAMPAIGNS.map((c) => [c.name, c]));

/** The campaign called `name`. @throws RangeError for an unknown name. */
export function campaignSpec(name: string): CampaignSpec {
  const spec = BY_NAME.get(name);
  if (spec === undefined) throw new RangeError(`unknown campaign ${JSON.stringify(name)}`);
  return spec;
}
