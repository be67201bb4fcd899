/**
 * A robust rolling baseline: the last N samples of a metric, judged by their median and median absolute deviation
 * (MAD), which a few earlier outliers cannot drag the way a mean and standard deviation can. The threshold is
 * computed when a sample is added, not per event: the engine judges tens of thousands of events a second.
 */
import type { Baseline, Metrics } from './engine-state.js';

export interface ThresholdRule {
  readonly capacity: number;
  readonly minSamples: number;
  /** MADs above the median (scaled by 1.4826, so that it estimates standard deviations for normal data). */
  readonly madFactor: number;
  /** The value must also be at least this multiple of the median… */
  readonly ratio: number;
  /** …and at least this much above it, per metric. */
  readonly minIncrease: Metrics<number>;
}

export const METRICS = ['statements', 'rows', 'patients'] as const;
export type Metric = (typeof METRICS)[number];

export function median(sorted: readonly number[]): number {
  const n = sorted.length;
  if (n === 0) return 0;
  const mid = n >> 1;
  return n % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export interface Spread {
  readonly median: number;
  readonly mad: number;
}

export function spreadOf(values: readonly number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  const m = median(sorted);
  const deviations = sorted.map((v) => Math.abs(v - m)).sort((a, b) => a - b);
  return { median: m, mad: median(deviations) };
}

export function thresholdOf(values: readonly number[], rule: ThresholdRule, metric: Metric): number | null {
  if (values.length < rule.minSamples) return null;
  const { median: m, mad } = spreadOf(values);
  const margin = Math.max(rule.madFactor * 1.4826 * mad, (rule.ratio - 1) * m, rule.minIncrease[metric]);
  return m + margin;
}

/** Adds one sample of every metric, dropping the oldest beyond capacity, and recomputes the thresholds. */
export function addSample(baseline: Baseline, sample: Metrics<number>, rule: ThresholdRule): void {
  for (const metric of METRICS) {
    const values = baseline.samples[metric];
    values.push(sample[metric]);
    while (values.length > rule.capacity) values.shift();
    baseline.thresholds[metric] = thresholdOf(values, rule, metric);
  }
}
