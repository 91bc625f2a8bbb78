/** The plain-text tables of the operator command line and the demo. */
import { describe, expect, it } from 'vitest';
import { textTable } from '../../shared/text-table.ts';

describe('textTable', () => {
  it('pads each column to its widest cell and rules the header off with dashes', () => {
    // Act
    const table = textTable([
      ['host', 'component', 'now'],
      ['i-0123456789abcdef0', 'agent', 'ok'],
      ['i-1', 'rdp_https_gateway', 'expired'],
    ]);

    // Assess
    expect(table.split('\n')).toEqual([
      'host                 component          now',
      '-------------------  -----------------  -------',
      'i-0123456789abcdef0  agent              ok',
      'i-1                  rdp_https_gateway  expired',
    ]);
  });
  it('leaves the missing cells of a short row blank', () => {
    // Act
    const table = textTable([
      ['host', 'status', 'reason'],
      ['i-1', 'ok'],
    ]);

    // Assess
    expect(table.split('\n')).toEqual(['host  status  reason', '----  ------  ------', 'i-1   ok']);
  });
  it('prints nothing, rather than failing, for a table with no rows', () => {
    expect(textTable([]).trim()).toBe('');
  });
});
