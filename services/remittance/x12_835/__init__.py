"""The X12 5010 835 (005010X221A1): ``reader.parse_835`` reads it into ``model``'s
records, ``balancing`` checks it to the cent, ``as_json`` prints it."""
