import type { PendingAction } from './status.js';

/**
 * Pieces of the writes that rely on an order being as it was read. Each adds its placeholder values to
 * `values` and returns its clause; writes combine the ones they rely on, so two writers never both act on
 * the same reading.
 */

/** The version read; rows from before versions existed have none. Uses the name placeholder `#version`. */
export function versionAsRead(version: number | undefined, values: Record<string, unknown>): string {
  if (version === undefined) return 'attribute_not_exists(#version)';
  values[':version'] = version;
  return '#version = :version';
}

/** The automatic redrive count read; an order never redriven has none. */
export function redriveCountAsRead(seen: number, values: Record<string, unknown>): string {
  values[':seen'] = seen;
  return seen === 0 ? '(attribute_not_exists(autoRedrives) OR autoRedrives = :seen)' : 'autoRedrives = :seen';
}

/** The operator action read (the same one, by when it started), or still none. */
export function actionAsRead(
  action: Pick<PendingAction, 'startedAt'> | undefined,
  values: Record<string, unknown>,
  placeholder = ':actionStartedAt',
): string {
  if (!action) return 'attribute_not_exists(pendingAction)';
  values[placeholder] = action.startedAt;
  return `pendingAction.startedAt = ${placeholder}`;
}

/**
 * The SET clause that appends an operator action, now ended, to the order's list of actions, with the
 * status it ended in. The values use the placeholders `:endedAction` and `:noActions`.
 */
export function endActionClause(
  action: PendingAction,
  endedAt: string,
  outcome: string,
  values: Record<string, unknown>,
): string {
  values[':endedAction'] = [{ ...action, endedAt, outcome }];
  values[':noActions'] = [];
  return 'actions = list_append(if_not_exists(actions, :noActions), :endedAction)';
}
