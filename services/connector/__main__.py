from services.connector.app import build

build().run()
