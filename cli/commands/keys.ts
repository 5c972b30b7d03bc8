import { Command } from 'commander';
import { KEY_SUBJECT, fetchPublicKey } from '../../evidence/index.js';
import { connectTo, natsOption } from '../common.js';

export function keysCommand(): Command {
  return new Command('keys')
    .description(`print the engine's public key (asked on ${KEY_SUBJECT})`)
    .addOption(natsOption())
    .option('--json', 'one JSON object: keyId, alg, publicKeyPem, jwk')
    .option('--pem', 'only the PEM, e.g. `robotrace keys --pem > engine.pem` for `robotrace verify --key`')
    .action(async (flags: { nats: string; json?: boolean; pem?: boolean }) => {
      const nc = await connectTo(flags.nats, 'robotrace-keys');
      try {
        const { key: _key, ...info } = await fetchPublicKey(nc);
        if (flags.json) process.stdout.write(`${JSON.stringify(info)}\n`);
        else if (flags.pem) process.stdout.write(info.publicKeyPem);
        else {
          process.stdout.write(`key id     ${info.keyId}\nalgorithm  ${info.alg}\n\n${info.publicKeyPem}\nJWK ${JSON.stringify(info.jwk)}\n`);
        }
      } finally {
        await nc.close();
      }
    });
}
