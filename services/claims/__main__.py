from services.claims.app import build

build().run()
