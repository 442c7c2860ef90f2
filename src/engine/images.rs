//! Images the book needs: taken from the engine, pulled, or built offline from a local recipe.
