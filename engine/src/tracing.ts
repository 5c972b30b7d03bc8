import { SpanStatusCode, type Attributes, type Tracer } from '@opentelemetry/api';

/** Span attribute keys used across the engine. */
export const Attr = {
  tracebackId: 'robotrace.traceback.id',
  hopId: 'robotrace.hop.id',
  provider: 'robotrace.provider.id',
  event: 'robotrace.event.type',
} as const;

/** Runs `fn` in a span that records failure and always ends. */
export async function withSpan<T>(tracer: Tracer, name: string, attributes: Attributes, fn: () => Promise<T>): Promise<T> {
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      const result = await fn();
      span.setStatus({ code: SpanStatusCode.OK });
      return result;
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      throw err;
    } finally {
      span.end();
    }
  });
}
