"""The Ornina call-center worker: joins each call room and runs the persona pipeline."""
