import cliProgress from 'cli-progress';

/** A progress bar on stderr; on a non-TTY (CI, a log file) it prints a line every few seconds. */
export interface Progress {
  update(value: number, info?: string): void;
  stop(): void;
}

export function progress(label: string, total: number, unit: string): Progress {
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `${label.padEnd(28)} [{bar}] {value}/{total} ${unit} | {info}`,
      hideCursor: true,
      noTTYOutput: true,
      notTTYSchedule: 5_000,
      barsize: 24,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { info: '' });
  return {
    update: (value, info = '') => bar.update(Math.min(total, Math.round(value)), { info }),
    stop: () => bar.stop(),
  };
}

export function note(message: string): void {
  process.stderr.write(`${message}\n`);
}
