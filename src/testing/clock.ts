/** A clock the test moves: the loop reads `now`, the test (or a scripted queue) calls `advance`. */
export class FakeClock {
  private ms: number;

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.ms = start;
  }

  /** Bound, so it can be handed over as `now` the way `Date.now` is. */
  readonly now = (): number => this.ms;

  advance(ms: number): void {
    this.ms += ms;
  }
}
