"""Eldercare (智慧养老): elders, their monitoring consent, and the families bound to them."""
