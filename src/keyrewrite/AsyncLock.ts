/** A FIFO mutex for async sections (rule changes vs. reclaim batches; one change at a time). */
export class AsyncLock {
  private tail: Promise<void> = Promise.resolve();

  run<T>(section: () => Promise<T> | T): Promise<T> {
    const result = this.tail.then(section);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}
