/**
 * The log levels and formats, alone in a leaf module: config validates them and telemetry
 * writes with them, so neither has to import the other for these names.
 */

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFormat = 'pretty' | 'json';

export interface LogSettings {
  format: LogFormat;
  /** pushcache's own lines below this level are dropped. */
  level: LogLevel;
}
