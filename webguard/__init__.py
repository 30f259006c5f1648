"""Web hardening every site shares (the issuer and each relying app): security headers, body limits, CORS,
hostile-JSON parsing, generic error bodies, and the checks no production deployment may fail."""
