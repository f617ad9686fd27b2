from services.statements.app import build

build().run()
