"""Small programs kept with the project to show and test what it does (not part of the product)."""
