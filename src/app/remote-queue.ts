/**
 * A run with a `remote`: every commit a job names is pushed to the remote before the job is
 * enqueued, so a worker on any machine can fetch it. The loop and the queue know nothing of it:
 * this wraps the queue the loop is given.
 */
import type { Evaluation, EvaluationQueue, EvaluationRequest, StageProgress } from '../domain/evaluation.js';
import type { StageResult } from '../domain/job.js';
import { crashedStage } from '../domain/job.js';
import { pushCommits, remoteRef } from '../git/remote.js';

export class PushingQueue implements EvaluationQueue {
  constructor(
    private readonly inner: EvaluationQueue,
    private readonly repo: string,
    private readonly url: string,
    private readonly combine: (results: StageResult[]) => Evaluation,
  ) {}

  async evaluate(request: EvaluationRequest, signal: AbortSignal, onProgress?: (progress: StageProgress) => void): Promise<Evaluation> {
    const failed = await this.push(request);
    return failed ?? this.inner.evaluate(request, signal, onProgress);
  }

  async evaluateHoldout(request: EvaluationRequest, signal: AbortSignal, onProgress?: (progress: StageProgress) => void): Promise<Evaluation> {
    const failed = await this.push(request);
    return failed ?? this.inner.evaluateHoldout(request, signal, onProgress);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  /** The base, the candidate and its parent on the remote; a crashed evaluation saying why when the push fails. */
  private async push(request: EvaluationRequest): Promise<Evaluation | undefined> {
    const refs = [
      { commit: request.baseCommit, ref: remoteRef(request.runId, 'base') },
      { commit: request.commit, ref: remoteRef(request.runId, request.experiment) },
      ...(request.parentCommit === undefined ? [] : [{ commit: request.parentCommit, ref: remoteRef(request.runId, `parent-${request.parentCommit.slice(0, 12)}`) }]),
    ];
    const problem = await pushCommits(this.repo, this.url, refs);
    if (problem === undefined) return undefined;
    return this.combine([crashedStage('setup', `could not push ${request.experiment} to the remote ${this.url}: ${problem}`)]);
  }
}
