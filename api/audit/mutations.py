"""The audit log has no mutations: entries are written by what they record
(`api/audit/extension.py`, `loyalty.audit.service.record_in`), never through the API."""
