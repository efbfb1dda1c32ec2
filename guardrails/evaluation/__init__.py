"""Offline evaluation of AWS authorization: conditions, policies, and the organization around them."""
