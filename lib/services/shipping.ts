import type { Duration } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import type { ServiceFunction } from '../platform/service-function.js';
import { ServiceTable } from '../platform/service-table.js';
import { sagaStepFunction } from './step-functions.js';

/** Markets served when the deployer names none: North America, the larger EU markets, the UK, Australia, Japan. */
export const DEFAULT_SERVED_COUNTRIES: readonly string[] = [
  'US',
  'CA',
  'GB',
  'IE',
  'DE',
  'FR',
  'NL',
  'BE',
  'LU',
  'AT',
  'ES',
  'PT',
  'IT',
  'SE',
  'DK',
  'FI',
  'PL',
  'AU',
  'NZ',
  'JP',
];

export interface ShippingServiceProps {
  /** How long barrier rows live. */
  readonly barrierTtl: Duration;
  /**
   * ISO 3166 alpha-2 codes of the countries shipped to; others raise ShippingRejected.
   * @default DEFAULT_SERVED_COUNTRIES
   */
  readonly servedCountries?: readonly string[];
}

/** Shipments per order: created once, cancellable while not yet handed to a carrier. */
export class ShippingService extends Construct {
  readonly table: ServiceTable;
  readonly create: ServiceFunction;
  readonly cancel: ServiceFunction;

  constructor(scope: Construct, id: string, props: ShippingServiceProps) {
    super(scope, id);
    const servedCountries = props.servedCountries ?? DEFAULT_SERVED_COUNTRIES;
    const invalid = servedCountries.filter((code) => !/^[A-Z]{2}$/.test(code));
    if (servedCountries.length === 0 || invalid.length > 0) {
      throw new Error(
        `servedCountries must be two upper-case letters each, got: ${invalid.join(', ') || 'none'}`,
      );
    }
    this.table = new ServiceTable(this, 'Table');
    const common = { table: this.table, barrierTtl: props.barrierTtl };
    this.create = sagaStepFunction(this, 'CreateShipment', {
      ...common,
      entry: 'shipping/create-handler.ts',
      environment: { SERVED_COUNTRIES: servedCountries.join(',') },
    });
    this.cancel = sagaStepFunction(this, 'CancelShipment', {
      ...common,
      entry: 'shipping/cancel-handler.ts',
    });
  }
}
