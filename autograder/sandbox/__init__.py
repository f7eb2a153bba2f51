"""Run untrusted student code in a separate, limited process; only data crosses back."""
