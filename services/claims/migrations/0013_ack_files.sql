-- A 999 names the 837 it answers by its functional group (AK102 = our GS06): the
-- acknowledgement reader (services/claims/acks.py) finds the interchange by it.
CREATE INDEX interchanges_by_group ON interchanges (tenant, group_control_number);
