// Who we are on every invoice: the seller (CedentePrestatore) and the SdI transmitter, as the configuration describes them.
import type { Config } from '../platform/config.js';

export interface TaxId {
  country: string;
  code: string;
}

/** Our company as the seller of every internal invoice. */
export interface Seller {
  name: string;
  /** Country code and VAT number, e.g. { country: 'IT', code: '01234567890' }. */
  vat: TaxId;
  /** When it differs from the VAT number. */
  fiscalCode: string | undefined;
  /** The tax regime, RF01 (ordinary) to RF19. */
  regimeFiscale: string;
  address: { street: string; postalCode: string; city: string; province: string | undefined; country: string };
}

type SellerConfig = Pick<
  Config,
  'sellerName' | 'sellerVatNumber' | 'sellerFiscalCode' | 'sellerRegimeFiscale' | 'sellerStreet' | 'sellerPostalCode' | 'sellerCity' | 'sellerProvince' | 'sellerCountry'
>;

export function sellerOf(config: SellerConfig): Seller {
  return {
    name: config.sellerName,
    vat: config.sellerVatNumber,
    fiscalCode: config.sellerFiscalCode,
    regimeFiscale: config.sellerRegimeFiscale,
    address: {
      street: config.sellerStreet,
      postalCode: config.sellerPostalCode,
      city: config.sellerCity,
      province: config.sellerProvince,
      country: config.sellerCountry,
    },
  };
}

/** Who transmits to the SdI and names every file: SDI_TRANSMITTER_ID, or else the seller itself. */
export function transmitterOf(config: Pick<Config, 'sdiTransmitterId' | 'sellerVatNumber'>): TaxId {
  return config.sdiTransmitterId ?? config.sellerVatNumber;
}
