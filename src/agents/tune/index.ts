// The tune agent: adaptive local search over numeric parameters named in the spec.
export { TuneProposer, type TuneAgentSpec } from './proposer.js';
export { validateTuneParams, locateParams, writeValues, findSpans, type LocatedParam } from './locate.js';
export { nextPoint, foldHistory, visitOrder, stepSize, START_LEVEL, MAX_LEVEL, type SearchRow, type SearchStep, type SearchOptions, type SearchState } from './search.js';
export { describeChange, parseDescription, pointFromState, readTriedPoint, tuneState, TUNE_STATE_VERSION, type TriedPoint, type Move, type TuneState } from './describe.js';
export { formatValue, styleOf, toUnit, fromUnit, pointKey, labelsOf, type Dimension, type NumberStyle } from './space.js';
