/** A one-line progress indicator on stderr for anything that waits; silent when stderr is not a terminal. */
export function startSpinner(text: string): { stop(final?: string): void } {
  if (!process.stderr.isTTY) {
    process.stderr.write(`${text}\n`);
    return { stop: (final) => final && process.stderr.write(`${final}\n`) };
  }
  const frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
  let i = 0;
  const timer = setInterval(() => process.stderr.write(`\r${frames[i++ % frames.length]} ${text}`), 100);
  return {
    stop(final) {
      clearInterval(timer);
      process.stderr.write(`\r\u001b[2K${final ? `${final}\n` : ''}`);
    },
  };
}
