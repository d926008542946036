"""Operations: what proves the production configuration runs (`make prod-check`), and the
Compose Specification's schema that docker-compose.yml is validated against."""
