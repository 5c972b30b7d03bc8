import { Command } from 'commander';
export function simCommand(): Command {
  return new Command('sim');
}
