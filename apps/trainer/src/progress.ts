import { SingleBar } from 'cli-progress';

export interface Progress {
  /** Advance to `done` items; `extra` values appear in the line (loss, tokens/s, …). */
  update(done: number, extra?: Record<string, string | number>): void;
  finish(summary?: string): void;
}

/**
 * A live bar on a terminal; plain log lines every ~10 % (or 30 s) when output is a file or a pipe,
 * so CI logs stay readable.
 */
export function progress(label: string, total: number, stream: NodeJS.WriteStream = process.stderr): Progress {
  const started = Date.now();
  const rate = (done: number) => done / Math.max(1e-3, (Date.now() - started) / 1000);
  const format = (extra: Record<string, string | number>) =>
    Object.entries(extra)
      .map(([k, v]) => `${k} ${v}`)
      .join(' | ');
  if (stream.isTTY) {
    const bar = new SingleBar({
      stream,
      format: `${label} [{bar}] {value}/{total} | {rate}/s | ETA {eta_formatted} | {extra}`,
      hideCursor: true,
      etaBuffer: 50,
    });
    bar.start(total, 0, { extra: '', rate: '0' });
    return {
      update: (done, extra = {}) => bar.update(done, { extra: format(extra), rate: rate(done).toFixed(1) }),
      finish: (summary) => {
        bar.stop();
        if (summary) stream.write(`${label}: ${summary}\n`);
      },
    };
  }
  let lastShown = -1;
  let lastTime = started;
  return {
    update(done, extra = {}) {
      const step = Math.floor((10 * done) / Math.max(1, total));
      const since = Date.now() - lastTime;
      if (done !== total && since < 30_000 && (step === lastShown || since < 2_000)) return;
      lastShown = step;
      lastTime = Date.now();
      const eta = done > 0 ? ((total - done) / rate(done)).toFixed(0) : '?';
      const percent = Math.round((100 * done) / Math.max(1, total));
      const more = Object.keys(extra).length ? ` | ${format(extra)}` : '';
      stream.write(`${label} ${done}/${total} (${percent}%) | ${rate(done).toFixed(1)}/s | ETA ${eta}s${more}\n`);
    },
    finish(summary) {
      stream.write(
        `${label}: done in ${((Date.now() - started) / 1000).toFixed(1)}s${summary ? ` | ${summary}` : ''}\n`,
      );
    },
  };
}

export function log(message: string): void {
  process.stderr.write(`${message}\n`);
}
