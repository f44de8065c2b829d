"""Speech for the harness to send: synthetic (espeak-ng) and recorded corpora."""
