/**
 * The search space of the tune agent: each parameter mapped to [0, 1] (log-transformed for
 * `scale: log`), and values written back in the style of the file they came from, so an int
 * stays an int and `3e-4` stays in exponent notation. Pure: no files here.
 */
import type { TuneParam } from '../../domain/spec.js';

/** How the number was written in the file, so a new value reads like the old one. */
export interface NumberStyle {
  exponent: boolean;
  upperE: boolean;
  /** The literal had a decimal point (`1.0`): keep one, so Python's float stays a float. */
  decimalPoint: boolean;
}

export interface Dimension {
  /** Short space-free name used in descriptions: the param's name, or one derived from its pattern. */
  label: string;
  min: number;
  max: number;
  type: 'int' | 'float';
  scale: 'linear' | 'log';
  style: NumberStyle;
}

/** Significant digits of a proposed float: coarse enough that near-duplicates collapse and dedupe. */
const SIGNIFICANT_DIGITS = 3;

export function styleOf(literal: string): NumberStyle {
  return { exponent: /e/i.test(literal), upperE: literal.includes('E'), decimalPoint: literal.includes('.') };
}

export function toUnit(dim: Dimension, value: number): number {
  const u =
    dim.scale === 'log'
      ? (Math.log(value) - Math.log(dim.min)) / (Math.log(dim.max) - Math.log(dim.min))
      : (value - dim.min) / (dim.max - dim.min);
  return Math.min(1, Math.max(0, u));
}

export function fromUnit(dim: Dimension, unit: number): number {
  const u = Math.min(1, Math.max(0, unit));
  return dim.scale === 'log'
    ? Math.exp(Math.log(dim.min) + u * (Math.log(dim.max) - Math.log(dim.min)))
    : dim.min + u * (dim.max - dim.min);
}

function render(value: number, style: NumberStyle): string {
  let text = style.exponent ? value.toExponential() : String(value);
  if (style.upperE) text = text.toUpperCase();
  if (style.decimalPoint && /^[-+]?\d+$/.test(text)) text += '.0';
  return text;
}

/** The literal written to the file for `value`: rounded for its type, inside [min, max]. */
export function formatValue(dim: Dimension, value: number): string {
  if (dim.type === 'int') {
    const rounded = Math.min(Math.floor(dim.max), Math.max(Math.ceil(dim.min), Math.round(value)));
    return String(rounded);
  }
  const text = render(Number(value.toPrecision(SIGNIFICANT_DIGITS)), dim.style);
  const parsed = Number(text);
  // Rounding can step just past a bound (max 0.03146 → 0.0315): write the bound itself then.
  if (parsed > dim.max) return render(dim.max, dim.style);
  if (parsed < dim.min) return render(dim.min, dim.style);
  return text;
}

/** Identity of a point for dedupe: numeric, so `3e-4`, `3.0e-4` and `0.0003` are one point. */
export function pointKey(values: readonly string[]): string {
  return values.map((v) => String(Number(v))).join(' ');
}

/** Labels for descriptions: the name, else the first identifier of the pattern; unique and space-free. */
export function labelsOf(params: readonly TuneParam[]): string[] {
  const base = params.map((p, i) => {
    const raw = p.name ?? /[A-Za-z_]\w*/.exec((p.pattern ?? '').replace(/\\./g, ' '))?.[0] ?? `param${i + 1}`;
    return sanitize(raw) || `param${i + 1}`;
  });
  const labels: string[] = [];
  base.forEach((label, i) => {
    let candidate = label;
    if (base.filter((b) => b === label).length > 1) candidate = `${label}@${sanitize(params[i]!.file)}`;
    for (let n = 2; labels.includes(candidate); n++) candidate = `${label}_${n}`;
    labels.push(candidate);
  });
  return labels;
}

// Labels live inside descriptions that are parsed back: no spaces, brackets, commas or parens.
function sanitize(text: string): string {
  return text.replace(/[^\w.@/-]+/g, '_');
}
