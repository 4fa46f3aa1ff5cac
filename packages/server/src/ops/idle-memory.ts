import v8 from 'node:v8';
import vm from 'node:vm';

/** V8's full garbage collection, run on request, or null where it cannot be had. */
function exposedCollector(): (() => void) | null {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed) return exposed;
  try {
    // Node exposes V8's collector only behind a flag; set now, it applies to contexts made after.
    v8.setFlagsFromString('--expose-gc');
    const gc: unknown = vm.runInNewContext('gc');
    return typeof gc === 'function' ? (gc as () => void) : null;
  } catch {
    return null;
  }
}

/**
 * Two full collections, or null where V8's cannot be had: the first frees the garbage but V8 keeps
 * the pages it held (on the half-load bench, 131 MB of heap reserved with 28 MB live), the second
 * gives them back to the system (68 MB reserved).
 */
function fullCollection(): (() => void) | null {
  const gc = exposedCollector();
  if (!gc) return null;
  return () => {
    gc();
    gc();
  };
}

/**
 * Once per quiet spell after work (`activity` unchanged for `quietMs`), `collect` (by default
 * `fullCollection`). V8 collects when it allocates: a server idle after a load kept its heap as the
 * load left it, garbage included, for as long as it stayed idle; collected, the heap shrinks to
 * what is live and its pages go back to the system. Runs only while nothing is being ingested, so
 * no request waits behind it. Returns a stop.
 */
export function collectWhenQuiet({
  activity,
  quietMs = 5_000,
  collect = fullCollection(),
}: {
  /** A count that moves with the work (e.g. commits made). */
  activity: () => number;
  quietMs?: number;
  /** The collection (V8's full one by default; none where it cannot be had). */
  collect?: (() => void) | null;
}): () => void {
  const gc = collect;
  if (!gc) return () => undefined;
  let seen = activity();
  let collectedAt = seen;
  const timer = setInterval(() => {
    const now = activity();
    if (now === seen && now !== collectedAt) {
      collectedAt = now;
      gc();
    }
    seen = now;
  }, quietMs).unref();
  return () => clearInterval(timer);
}
