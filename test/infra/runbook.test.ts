import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ATTENTION_REASONS } from '../../lambdas/orders/status.js';
import { RUNBOOK_PATH, runbookAnchor } from '../../lib/ops/monitoring.js';
import { synthOrderSaga } from './synth.js';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
const runbook = read(RUNBOOK_PATH);
const readme = read('README.md');

/** The anchors of a markdown document's headings, as GitHub renders them. */
function anchorsOf(markdown: string): Set<string> {
  return new Set([...markdown.matchAll(/^#{1,6} (.+)$/gm)].map((match) => runbookAnchor(match[1] ?? '')));
}

/** The part of the runbook under one `##` section. */
function section(title: string): string {
  const start = runbook.indexOf(`\n## ${title}\n`);
  if (start < 0) throw new Error(`No section ${title}`);
  const end = runbook.indexOf('\n## ', start + 1);
  return runbook.slice(start, end < 0 ? undefined : end);
}

describe('the runbook', () => {
  const { template } = synthOrderSaga();
  const alarms = Object.values(
    template.findResources('AWS::CloudWatch::Alarm') as Record<
      string,
      { Properties: { AlarmName: string; AlarmDescription?: string } }
    >,
  ).map((alarm) => alarm.Properties);

  it('has an entry for every alarm in the template, which the alarm links to', () => {
    expect(alarms.length).toBeGreaterThan(0);
    const entries = anchorsOf(section('Alarms'));
    for (const alarm of alarms) {
      const link = alarm.AlarmDescription?.match(new RegExp(`Runbook: ${RUNBOOK_PATH}#([\\w-]+)$`));
      expect(link, alarm.AlarmName).not.toBeNull();
      expect(entries.has(link?.[1] ?? ''), `${alarm.AlarmName} -> #${link?.[1]}`).toBe(true);
    }
  });

  it('says what to decide for every reason an order waits for a person, and for COMPENSATION_FAILED', () => {
    const entries = anchorsOf(section('Orders waiting for a person'));
    for (const reason of [...ATTENTION_REASONS, 'COMPENSATION_FAILED'])
      expect(entries.has(runbookAnchor(reason)), reason).toBe(true);
  });

  it('is linked from the README with the dashboard and the diagram', () => {
    expect(readme).toContain('(docs/runbook.md)');
    expect(readme).toContain('(docs/saga.md)');
    expect(readme).toContain('`DashboardName`');
    expect(readme).toContain('`AlarmTopicArn`');
  });
});
