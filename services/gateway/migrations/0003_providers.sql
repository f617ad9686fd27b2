-- The provider directory: the billing and rendering providers (and service locations) a
-- tenant's FHIR provider bundles describe, so an encounter that names its providers by
-- reference only (Synthea's Practitioner?identifier=…|NPI) is completed from here.
-- No patient data. Upserted by NPI (provider_key 'npi:<NPI>'), by FHIR id ('<Type>/<id>')
-- when there is none; lookup_keys are the references that find the entry.
CREATE TABLE providers (
    tenant        text NOT NULL,
    provider_key  text NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('organization', 'practitioner', 'location')),
    fhir_type     text NOT NULL,
    fhir_id       text NOT NULL DEFAULT '',
    npi           text,
    name          text NOT NULL,
    first_name    text,
    taxonomy      text,
    tax_id        text,
    address       jsonb,
    lookup_keys   text[] NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, provider_key)
);
CREATE INDEX providers_lookup ON providers USING gin (lookup_keys);
