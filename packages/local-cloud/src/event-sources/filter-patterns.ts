import { isRecord } from '../template.js';
import { numberOf } from './mappings.js';

// Content filtering: the EventBridge pattern subset Lambda filters accept (what CDK's FilterRule produces,
// plus suffix, equals-ignore-case, wildcard and $or).

const NUMERIC_OPERATORS: Record<string, (value: number, bound: number) => boolean> = {
  '=': (value, bound) => value === bound,
  '<': (value, bound) => value < bound,
  '<=': (value, bound) => value <= bound,
  '>': (value, bound) => value > bound,
  '>=': (value, bound) => value >= bound,
};

function matchesNumeric(conditions: unknown, candidate: unknown): boolean {
  // DynamoDB numbers arrive as strings ({"N": "5"}): Lambda compares them numerically all the same.
  const value = typeof candidate === 'number' ? candidate : numberOf(candidate);
  if (value === undefined || !Array.isArray(conditions) || conditions.length % 2 !== 0) return false;
  for (let index = 0; index < conditions.length; index += 2) {
    const operator = conditions[index];
    const bound = numberOf(conditions[index + 1]);
    if (bound === undefined) return false;
    const compare = typeof operator === 'string' ? NUMERIC_OPERATORS[operator] : undefined;
    if (!compare?.(value, bound)) return false;
  }
  return true;
}

function matchesText(rule: unknown, candidate: unknown, test: (text: string, wanted: string) => boolean) {
  if (typeof candidate !== 'string') return false;
  if (typeof rule === 'string') return test(candidate, rule);
  if (isRecord(rule) && typeof rule['equals-ignore-case'] === 'string') {
    return test(candidate.toLowerCase(), rule['equals-ignore-case'].toLowerCase());
  }
  return false;
}

function matchesWildcard(rule: unknown, candidate: unknown): boolean {
  if (typeof rule !== 'string' || typeof candidate !== 'string') return false;
  const source = rule
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${source}$`, 's').test(candidate);
}

function matchesValue(matcher: unknown, candidate: unknown): boolean {
  if (candidate === undefined) return false;
  if (matcher === null) return candidate === null;
  if (typeof matcher !== 'object') return candidate === matcher;
  if (!isRecord(matcher)) return false;
  if ('prefix' in matcher)
    return matchesText(matcher.prefix, candidate, (text, wanted) => text.startsWith(wanted));
  if ('suffix' in matcher)
    return matchesText(matcher.suffix, candidate, (text, wanted) => text.endsWith(wanted));
  if ('equals-ignore-case' in matcher) {
    return matchesText(matcher, candidate, (text, wanted) => text === wanted);
  }
  if ('numeric' in matcher) return matchesNumeric(matcher.numeric, candidate);
  if ('wildcard' in matcher) return matchesWildcard(matcher.wildcard, candidate);
  if ('anything-but' in matcher) {
    const excluded = matcher['anything-but'];
    // A list of values, one value, or a {prefix}/{suffix}/... matcher to exclude.
    const exclusions = Array.isArray(excluded) ? excluded : [excluded];
    return !exclusions.some((value) => matchesValue(value, candidate));
  }
  return false;
}

function matchesMatchers(matchers: unknown[], value: unknown): boolean {
  const candidates = Array.isArray(value) ? value : [value];
  return matchers.some((matcher) => {
    if (isRecord(matcher) && 'exists' in matcher) {
      // Lenient where EventBridge is strict: "exists" also accepts objects, e.g. a DynamoDB {"S": ...}.
      return matcher.exists === (value !== undefined);
    }
    return candidates.some((candidate) => matchesValue(matcher, candidate));
  });
}

/** Whether one filter pattern matches an event record (as Lambda sees it: stream record or SQS message). */
export function matchesFilterPattern(pattern: Record<string, unknown>, event: unknown): boolean {
  return Object.entries(pattern).every(([key, rule]) => {
    if (key === '$or') {
      return (
        Array.isArray(rule) && rule.some((branch) => isRecord(branch) && matchesFilterPattern(branch, event))
      );
    }
    const value = isRecord(event) ? event[key] : undefined;
    if (Array.isArray(rule)) return matchesMatchers(rule, value);
    if (isRecord(rule)) return matchesFilterPattern(rule, value);
    return false;
  });
}

export function passesFilters(patterns: Record<string, unknown>[], event: unknown): boolean {
  return patterns.length === 0 || patterns.some((pattern) => matchesFilterPattern(pattern, event));
}
