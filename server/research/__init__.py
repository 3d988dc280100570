"""Research interviews: a request after each held SHM, the patient's consent and withdrawal, the researcher's list."""
