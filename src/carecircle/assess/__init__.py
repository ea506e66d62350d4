"""Assessment: demand, who is served today, district and street indicators."""
