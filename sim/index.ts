/**
 * A synthetic US phone network for the demo, tests and benchmarks: providers with heavy-tailed
 * sizes and traceback behaviours, interconnections, customers, foreign carriers, robocall
 * campaigns with real transcripts, calls routed hop by hop, and the CDRs each carrier keeps.
 * Deterministic for a given seed.
 */
export { generateNetwork, compileNetworkOptions } from './src/network.js';
export { generateCalls, callDataOf } from './src/calls.js';
export { buildCdrs, buildCdrIndexes, expectTraceback } from './src/cdrs.js';
export { writeNetworkFiles, DIRECTORY_FILE } from './src/files.js';
export { summarizeNetwork } from './src/summary.js';
export { shakenAlongPath, simulatedIdentity, simulatedUuid, supportsShaken } from './src/shaken.js';
export { CAMPAIGNS, campaignSpec } from './src/campaigns.js';
export { US_AREA_CODES, randomUsNumber } from './src/phone.js';
export { Rng, WeightedTable, hashString, mix32 } from './src/rng.js';
export type { Seed } from './src/rng.js';
export type {
  ProviderRole,
  ProviderBehaviour,
  SimProvider,
  SimLink,
  SimForeignCarrier,
  SimCustomer,
  SimCampaign,
  SimCampaignSource,
  SimNetworkOptions,
  CompiledSimNetworkOptions,
  SimNetwork,
  SimOrigin,
  SimCall,
  SimCallOptions,
  SimCdrs,
  SimCdrOptions,
  SimExpectation,
  CampaignSpec,
  SimSummary,
} from './src/types.js';
export { startSimulatedCarriers } from './src/carriers.js';
export type { SimulatedCarriersOptions, SimulatedCarriers } from './src/carriers.js';
