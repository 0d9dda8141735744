/**
 * The resharding job list in etcd (`jobs`), so that the next leader shows and resumes the jobs
 * of the last one. The job manager reads it synchronously at start, so the leader loads it
 * before its plugins start; writes are asynchronous and serialized (the moves themselves are
 * durable in the topology; the list is what `ctl jobs` and `rebalance --wait` read).
 */
import type { Logger } from '../log';
import type { JobInfo } from '../reshard/JobManager';
import type { EtcdHandle } from './etcdClient';
import { JOBS_KEY } from './keys';

export interface JobListStore {
  load(): JobInfo[] | null;
  save(infos: JobInfo[]): void;
}

export class EtcdJobStore implements JobListStore {
  private cached: JobInfo[] | null = null;
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly etcd: EtcdHandle, private readonly log: Logger) {}

  /** Read the list from etcd (the leader does this before starting its plugins). */
  async fetch(): Promise<void> {
    const text = await this.etcd.ns.get(JOBS_KEY).string();
    this.cached = text ? (JSON.parse(text) as JobInfo[]) : null;
  }

  load(): JobInfo[] | null {
    return this.cached;
  }

  save(infos: JobInfo[]): void {
    this.cached = infos;
    const text = JSON.stringify(infos);
    this.writing = this.writing.then(() =>
      this.etcd.ns.put(JOBS_KEY).value(text).then(
        () => undefined,
        (err) => this.log.warn({ err: (err as Error).message }, 'cannot save the job list to etcd'),
      ),
    );
  }

  /** Resolves once every save so far reached etcd (or failed). */
  flushed(): Promise<void> {
    return this.writing;
  }
}
