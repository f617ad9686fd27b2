"""The coding edits, one module per family; :func:`services.coding.scrub.scrub` runs
them in order. Where each edit id lives (severity):

=====================  ==========  =========================================================
edit id                severity    module
=====================  ==========  =========================================================
CODESET-VERSION        warn        codeset_version: date of service outside the ICD-10-CM release
FUTURE-DOS             hold        code_dates: the date of service is after today
DX-INVALID             hold        diagnosis_codes: not an ICD-10-CM code
DX-NOT-IN-FORCE        hold        code_dates (via diagnosis_codes): a code before its effective
                                   date or after its termination (both dates named)
DX-NOT-BILLABLE        hold        diagnosis_codes: a header, not a leaf code
DX-DUPLICATE           warn        diagnosis_codes: the same diagnosis twice
DX-SEX                 hold        diagnosis_sex: sex-specific code, patient of the other sex
DX-AGE                 hold        diagnosis_age: MCE age groups (newborn 0, pediatric 0-17,
                                   maternity 9-64, adult 15-124) and BMI ages
DX-FIRST-LISTED        hold/warn   diagnosis_sequence: a code that may not be listed first
                                   (external cause, manifestation, status Z codes)
PROC-INVALID           hold        procedure_codes: not shaped like CPT or HCPCS Level II
PROC-NOT-IN-FORCE      hold        code_dates (via procedure_codes): HCPCS, or CPT with the licensed
                                   file's dates, outside its dates (both named)
PROC-UNKNOWN           warn        procedure_codes: in none of the CPT/HCPCS sets held
MOD-INVALID            hold        modifiers: unknown or repeated modifier
PROC-SEX               hold        procedure_sex: a one-sex procedure, patient of the other sex
POINTERS               hold        pointers: >12 diagnoses, >4 pointers, unknown diagnosis,
                                   a line with no pointer (never defaulted)
DUP-LINE               hold        duplicate_lines: same code and modifiers twice
EM-PREVENTIVE-AGE      hold        em_preventive: preventive code's age band or status
EM-PATIENT-STATUS      hold        em_patient_status: office visit new/established
EM-MULTIPLE            hold        em_multiple: two E/Ms (preventive + problem needs 25)
EM-LEVEL               hold/warn   em_level: office E/M level against MDM or time
DX-FIT-PROBLEM         hold        dx_fit: problem E/M pointing only at exams/screening/Z23
DX-FIT-PREVENTIVE      hold        dx_fit: preventive visit without a routine exam of its band
VACCINE-PRODUCT        hold/warn   vaccines: administration without product (product alone: warn)
VACCINE-DX             hold        vaccines: vaccine line not pointing at Z23
VACCINE-ADMIN-CODE     hold        vaccines: 90460/90461 over 18, add-on without its primary
DX-NECESSITY           hold/warn   necessity: test without a supporting diagnosis (GA/GZ/GY warn)
NCCI-PTP               hold        ncci_ptp: bundled pair without a bypass modifier
MUE                    hold        mue: units over the medically unlikely edit
EM-AWV-FREQUENCY       hold        awv_frequency: G0438 once ever, G0439 once a year
PAYER-NOT-COVERED      hold/warn   payer_coverage: a wellness code the payer does not cover
                                   (GY: warn)
PAYER-FREQUENCY        hold        payer_coverage: past the payer's frequency limit (history)
PAYER-MODIFIER         hold        payer_modifiers: a modifier the payer requires is missing,
                                   or an NCCI bypass modifier it does not accept
PAYER-TELEHEALTH       hold        payer_modifiers: telehealth modifier and place of service
PRIOR-AUTH             hold        payer_auth: a service needing prior authorization, no number
REFERRAL               hold        payer_auth: a service needing a referral, no number
PATIENT-AGE            hold        claim_data: birth after the date of service
CLAIM-ID               hold        claim_data: claim id does not fit the control number
COVERAGE-MISSING       hold        claim_data: no coverage or payer, not self-pay
CLAIM-INVALID          hold        claim_data: the built claim fails its contract
NPI-INVALID            hold        identifiers: a provider NPI fails its check digit
TAXONOMY-INVALID       hold        identifiers: a taxonomy not shaped like NUCC's codes
PAYER-UNKNOWN          hold        identifiers: a payer id not in the payer list
=====================  ==========  =========================================================

The PAYER-* edits, PRIOR-AUTH and REFERRAL read the billed payer's rules
(:mod:`services.coding.payer_rules`, loaded per tenant by ``rcm code load-payer-rules``);
a payer without rules gets none of them.

Every edit reads :class:`~services.coding.edits.facts.ClaimFacts` and returns
:class:`~services.coding.edits.flag.Flag` s; none does I/O. Messages speak to a coder
and never carry patient names or identifiers.
"""
